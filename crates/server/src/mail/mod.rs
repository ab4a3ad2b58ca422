//! Mail in: the SMTP listener (`smtp`) that takes mail for spaces and
//! reply addresses, and reading a message off the wire (`message`). What
//! a mail may do and what it becomes is `service::mail_in`; like the HTTP
//! handlers, this module imports nothing from `store`.

pub mod message;
pub mod smtp;
