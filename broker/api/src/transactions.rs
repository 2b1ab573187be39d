//! Transaction routes: end a transaction (commit, rollback), resume the check-backs of
//! a parked one, list the undecided ones; and producer groups: create or replace, list,
//! describe, delete, and the long poll through which producers receive check-backs.
//!
//! A half message is sent through the ordinary send route (see [`crate::send`]). Its
//! transaction is decided by the producer (commit or rollback), by a check-back answered
//! by the producer group's callback URL (see [`crate::checkback`]), or by a producer
//! that long-polls its group's checks and answers with commit or rollback.

use std::time::Duration;

use http::{Request, StatusCode};
use weir_core::TxOutcome;
use weir_core::topic::TopicName;
use weir_wire::transaction::{
    CheckList, ProducerGroupList, PutProducerGroup, TransactionList, TransactionOutcome,
    TransactionState,
};

use crate::app::{HttpResponse, json, no_content};
use crate::body::{RequestBody, read_json};
use crate::query::count;
use crate::routes::query_param;
use crate::wire::{half, producer_group};
use crate::{ApiError, App};

/// Undecided transactions a listing returns when the request does not say.
pub(crate) const DEFAULT_TRANSACTIONS_PAGE: u64 = 100;

/// Check-backs a poll returns at most when the request does not say.
pub(crate) const DEFAULT_CHECKS_MAX: u64 = 32;

fn state(transaction: &str, state: TransactionState) -> HttpResponse {
    json(
        StatusCode::OK,
        &TransactionOutcome {
            transaction: transaction.to_owned(),
            state,
        },
    )
}

fn outcome_state(outcome: TxOutcome) -> TransactionState {
    match outcome {
        TxOutcome::Committed => TransactionState::Committed,
        TxOutcome::RolledBack => TransactionState::RolledBack,
    }
}

/// Commits: the message becomes visible in its topic. Committing again is not an error;
/// committing a rolled-back transaction is `409 TRANSACTION_CONFLICT`.
pub(crate) async fn commit(app: &App, transaction: &str) -> Result<HttpResponse, ApiError> {
    let outcome = app.broker.commit(transaction).await?;
    Ok(state(transaction, outcome_state(outcome)))
}

/// Rolls back: the message is never delivered. Idempotent like commit.
pub(crate) async fn rollback(app: &App, transaction: &str) -> Result<HttpResponse, ApiError> {
    let outcome = app.broker.rollback(transaction).await?;
    Ok(state(transaction, outcome_state(outcome)))
}

/// Starts the check-backs of a transaction again from zero (a parked one, typically).
pub(crate) async fn resume(app: &App, transaction: &str) -> Result<HttpResponse, ApiError> {
    app.broker.resume_transaction(transaction).await?;
    Ok(state(transaction, TransactionState::Resumed))
}

/// The undecided transactions, oldest first: `?max=N` (1 to the read limit, default 100).
pub(crate) fn list(app: &App, query: Option<&str>) -> Result<HttpResponse, ApiError> {
    let max = count(query, "max", DEFAULT_TRANSACTIONS_PAGE)?;
    let halves = app.broker.transactions(max)?;
    Ok(json(
        StatusCode::OK,
        &TransactionList {
            transactions: halves.iter().map(half).collect(),
        },
    ))
}

/// Creates or replaces a producer group; `201` with the group either way.
pub(crate) async fn put_group(
    app: &App,
    request: Request<RequestBody>,
) -> Result<HttpResponse, ApiError> {
    let put: PutProducerGroup = read_json(request.into_body()).await?;
    let config = app
        .broker
        .put_producer_group(&put.name, put.callback_url)
        .await?;
    Ok(json(StatusCode::CREATED, &producer_group(&config)))
}

pub(crate) fn list_groups(app: &App) -> HttpResponse {
    let configs = app.broker.producer_groups();
    json(
        StatusCode::OK,
        &ProducerGroupList {
            producer_groups: configs.iter().map(producer_group).collect(),
        },
    )
}

pub(crate) fn get_group(app: &App, name: &str) -> Result<HttpResponse, ApiError> {
    let config = app.broker.producer_group(name)?;
    Ok(json(StatusCode::OK, &producer_group(&config)))
}

pub(crate) async fn delete_group(app: &App, name: &str) -> Result<HttpResponse, ApiError> {
    app.broker.delete_producer_group(name).await?;
    Ok(no_content())
}

/// Check-backs waiting for a producer of the group: `?max=N` (1–1000, default 32) and
/// `?wait_ms=W` (0–30 000, default 0) to wait for a first one (long poll). The group
/// need not be registered: registration only gives it a callback URL.
///
/// # Cancel safety
///
/// Checks handed to a request whose client hangs up are not lost: the transaction is
/// checked back again at the next check interval.
pub(crate) async fn poll_checks(
    app: &App,
    group: &str,
    query: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    TopicName::parse(group).map_err(|_| {
        ApiError::invalid_argument(format!(
            "invalid producer group name '{group}': 1 to 127 characters of A-Z a-z 0-9 _ -"
        ))
    })?;
    let max = count(query, "max", DEFAULT_CHECKS_MAX)?;
    let halves = app
        .broker
        .poll_checks(group, max, Duration::from_millis(wait_ms(query)?))
        .await?;
    Ok(json(
        StatusCode::OK,
        &CheckList {
            checks: halves.iter().map(half).collect(),
        },
    ))
}

/// The `wait_ms` query parameter (default 0); `400 INVALID_ARGUMENT` when it is not a
/// non-negative integer.
fn wait_ms(query: Option<&str>) -> Result<u64, ApiError> {
    match query_param(query, "wait_ms") {
        None => Ok(0),
        Some(Ok(text)) => text.parse().map_err(|_| {
            ApiError::invalid_argument(format!(
                "wait_ms must be a non-negative integer, got '{text}'"
            ))
        }),
        Some(Err(())) => Err(ApiError::invalid_argument(
            "wait_ms is not valid percent-encoding",
        )),
    }
}
