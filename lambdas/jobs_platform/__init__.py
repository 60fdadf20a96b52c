"""Jobs platform: the Lambda functions (api, authorizer, worker) and their domain."""

__version__ = "0.1.0"
