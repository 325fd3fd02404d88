"""ticket-service: Tickets, response targets in business hours, breaches, tickets from Slack and Lark."""
