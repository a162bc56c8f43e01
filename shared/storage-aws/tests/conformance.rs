//! The port conformance suite (`javumbo_session::conformance`), the same checks the embedded
//! adapters pass, run against the AWS adapters on a local ministack.

mod support;

use javumbo_session::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blob_store_conforms_on_s3() {
    let env = support::env().await;
    conformance::run_all_blob(env.ports.blobs.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_store_conforms_on_dynamodb() {
    let env = support::env().await;
    conformance::run_all_user(env.ports.users.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_store_conforms_on_dynamodb() {
    let env = support::env().await;
    conformance::run_all_session(env.ports.sessions.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flush_bus_conforms_on_sns() {
    let env = support::env().await;
    conformance::bus_publish_succeeds(env.ports.bus.clone()).await;
}
