//! Lambda function `sync`: Anki's sync protocol and the device keys API behind API Gateway
//! (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), javumbo_app::Error> {
    javumbo_app::run(javumbo_sync_fn::GROUP, javumbo_app::routes::SYNC).await
}
