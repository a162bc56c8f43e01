//! Lambda function `flush-handler`: the SNS subscriber that folds a user's journal into the
//! snapshot and releases the session.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    javumbo_flush_handler::run().await
}
