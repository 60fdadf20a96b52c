output "pipe_name" {
  description = "Name of the pipe."
  value       = aws_pipes_pipe.this.name
}

output "pipe_arn" {
  description = "ARN of the pipe."
  value       = aws_pipes_pipe.this.arn
}

output "role_arn" {
  description = "ARN of the pipe's role."
  value       = aws_iam_role.this.arn
}
