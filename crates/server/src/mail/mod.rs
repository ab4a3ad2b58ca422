//! Mail, both ways. In: the SMTP listener (`smtp`) that takes mail for
//! spaces and reply addresses, and reading a message off the wire
//! (`message`); what a mail may do and what it becomes is
//! `service::mail_in`. Out (`out`): the relay and the `mail` job that
//! sends what `service::mail` renders. Like the HTTP handlers, these
//! modules import nothing from `store`.

pub mod list;
pub mod mbox;
pub mod message;
pub mod out;
pub mod smtp;
