//! Lambda function `review`: javumbo's review routes behind API Gateway (HTTP API, payload v2).

#[tokio::main]
async fn main() -> Result<(), javumbo_app::Error> {
    javumbo_app::run(javumbo_review::GROUP, javumbo_app::routes::REVIEW).await
}
