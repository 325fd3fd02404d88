"""Connected Care shared events: the CloudEvents envelope, v1 events, topics and the plan catalogue."""
