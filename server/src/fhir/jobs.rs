//! Asynchronous imports (`Prefer: respond-async`) and their status URL.
//!
//! A job lives in memory only: its progress counters, then its answer. Polling
//! `GET /import-jobs/{id}` gives 202 with `X-Progress` (`importing: N resources, M bytes read`)
//! while it runs, then the answer the synchronous call would have given (200 and the report,
//! or the error's status and OperationOutcome), as many times as asked. Ids are 256-bit random
//! and the route still requires the bearer token. At most [`MAX_FINISHED`] finished jobs are
//! kept (the oldest go first); a restart forgets them all, which is acceptable because the
//! import itself is committed (or not) in the store and the run is recorded there.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::FhirState;
use super::outcome::{FhirError, fhir_json, outcome};

/// Finished jobs kept for polling.
const MAX_FINISHED: usize = 32;

/// One asynchronous import.
#[derive(Default)]
pub(crate) struct Job {
    bytes: AtomicU64,
    resources: AtomicU64,
    answer: Mutex<Option<(StatusCode, Value)>>,
}

impl Job {
    /// Records progress (called from the import thread).
    pub fn record(&self, bytes: u64, resources: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.resources.store(resources, Ordering::Relaxed);
    }

    /// Stores the final answer.
    pub fn finish(&self, answer: (StatusCode, Value)) {
        if let Ok(mut slot) = self.answer.lock() {
            *slot = Some(answer);
        }
    }
}

/// The registry of jobs, newest last.
#[derive(Default)]
pub(crate) struct Jobs {
    jobs: Mutex<VecDeque<(String, Arc<Job>)>>,
}

impl Jobs {
    /// Registers a new job under `id`, forgetting the oldest finished ones beyond the cap.
    pub fn insert(&self, id: &str) -> Arc<Job> {
        let job = Arc::new(Job::default());
        if let Ok(mut jobs) = self.jobs.lock() {
            while jobs.len() >= MAX_FINISHED {
                let finished = jobs
                    .iter()
                    .position(|(_, j)| j.answer.lock().is_ok_and(|a| a.is_some()));
                match finished {
                    Some(i) => {
                        jobs.remove(i);
                    }
                    None => break,
                }
            }
            jobs.push_back((id.to_owned(), job.clone()));
        }
        job
    }

    fn get(&self, id: &str) -> Option<Arc<Job>> {
        let jobs = self.jobs.lock().ok()?;
        jobs.iter().find(|(k, _)| k == id).map(|(_, j)| j.clone())
    }
}

/// `GET /import-jobs/{id}`.
pub(crate) async fn status(State(state): State<FhirState>, Path(id): Path<String>) -> Response {
    let Some(job) = state.jobs.get(&id) else {
        return FhirError::NotFound("no such import job".into()).into_response();
    };
    let answer = job.answer.lock().ok().and_then(|a| a.clone());
    match answer {
        Some((status, body)) => fhir_json(status, body),
        None => {
            let progress = format!(
                "importing: {} resources, {} bytes read",
                job.resources.load(Ordering::Relaxed),
                job.bytes.load(Ordering::Relaxed)
            );
            let mut response = fhir_json(
                StatusCode::ACCEPTED,
                outcome("information", "informational", &progress),
            );
            if let Ok(v) = HeaderValue::from_str(&progress) {
                response.headers_mut().insert("x-progress", v);
            }
            response
        }
    }
}
