//! The PostgreSQL backend: a deadpool pool of tokio-postgres clients.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{Row, Value};
use crate::Error;

pub(crate) struct Postgres {
    pool: Pool,
    redacted_url: String,
}

impl Postgres {
    pub(crate) async fn open(
        url: &str,
        redacted_url: &str,
        options: &super::Options,
    ) -> Result<Postgres, Error> {
        let unavailable = |message: String| Error::Unavailable {
            url: redacted_url.to_owned(),
            message,
        };
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| unavailable(format!("the URL is not a valid PostgreSQL URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("chorus");
        }
        config.connect_timeout(std::time::Duration::from_secs(5));
        // Every query is a cached prepared statement; a generic plan is made
        // once per connection. Without this PostgreSQL re-plans the first
        // executions and keeps custom plans for the stream queries, whose
        // planning costs several times their execution.
        let generic = "-c plan_cache_mode=force_generic_plan";
        let server_options = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} {generic}"),
            _ => generic.to_owned(),
        };
        config.options(&server_options);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| unavailable(e.to_string()))?;
        // Fail now, with a message that helps, rather than on the first request.
        let client = pool.get().await.map_err(|e| {
            unavailable(format!(
                "{e}. Check that PostgreSQL is running and reachable, and that the URL's host, \
                 port, user, password and database name are right."
            ))
        })?;
        drop(client);
        Ok(Postgres {
            pool,
            redacted_url: redacted_url.to_owned(),
        })
    }

    pub(crate) async fn get(&self) -> Result<Object, Error> {
        self.pool.get().await.map_err(|e| Error::Unavailable {
            url: self.redacted_url.clone(),
            message: e.to_string(),
        })
    }

    pub(crate) fn close(&self) {
        self.pool.close();
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => Err(format!("cannot send an integer as {ty}").into()),
            },
            Value::Float(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Bytes(v) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn convert(row: &tokio_postgres::Row) -> Result<Row, Error> {
    let mut vals = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let d = |e: tokio_postgres::Error| Error::Decode(format!("column {}: {e}", col.name()));
        let v = match *col.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map_err(d)?.map(Value::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map_err(d)?
                .map(|v| Value::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map_err(d)?
                .map(|v| Value::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map_err(d)?
                .map(|v| Value::Int(v.into())),
            Type::FLOAT8 => row
                .try_get::<_, Option<f64>>(i)
                .map_err(d)?
                .map(Value::Float),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(i)
                .map_err(d)?
                .map(|v| Value::Float(v.into())),
            Type::BYTEA => row
                .try_get::<_, Option<Vec<u8>>>(i)
                .map_err(d)?
                .map(Value::Bytes),
            _ => row
                .try_get::<_, Option<String>>(i)
                .map_err(d)?
                .map(Value::Text),
        };
        vals.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(vals))
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

pub(crate) async fn query(client: &Object, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
    let stmt = client.prepare_cached(sql).await.map_err(map_err)?;
    let rows = client.query(&stmt, &refs(params)).await.map_err(map_err)?;
    rows.iter().map(convert).collect()
}

pub(crate) async fn execute(client: &Object, sql: &str, params: &[Value]) -> Result<u64, Error> {
    let stmt = client.prepare_cached(sql).await.map_err(map_err)?;
    client.execute(&stmt, &refs(params)).await.map_err(map_err)
}

pub(crate) fn map_err(e: tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            return Error::Conflict(crate::Unique::from_postgres(db.table(), db.constraint()));
        }
        if *code == SqlState::FOREIGN_KEY_VIOLATION {
            return Error::ForeignKey(db.message().to_owned());
        }
        if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE {
            return Error::BadText(db.message().to_owned());
        }
        if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        {
            return Error::Busy;
        }
        return Error::Db(format!("{}: {}", db.code().code(), db.message()));
    }
    if e.is_closed() {
        return Error::Closed;
    }
    Error::Db(e.to_string())
}
