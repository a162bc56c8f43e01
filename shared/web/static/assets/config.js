// Where the API lives. Empty = same origin (javumbo-local serves app and API together).
// The CDK deployment overwrites this file with the API Gateway URL, e.g.
//   window.JAVUMBO_API_BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com";
window.JAVUMBO_API_BASE = window.JAVUMBO_API_BASE || "";
// The address official Anki clients sync with. Empty = the API's own origin; on AWS the
// deployment names the sync function's URL, which streams full downloads past API Gateway's
// payload limit.
window.JAVUMBO_SYNC_URL = window.JAVUMBO_SYNC_URL || "";
