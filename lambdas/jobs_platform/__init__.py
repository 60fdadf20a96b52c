"""Jobs platform: the Lambda functions (api, authorizer, worker) and their domain."""
