"""Jobs platform: the Lambda functions (api, authorizer, worker, bookkeeper) and their domain."""
