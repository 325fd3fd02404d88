"""assistant-service: answers support questions in Slack, Lark and the console from a bilingual knowledge base,
and hands over to a ticket when it cannot."""
