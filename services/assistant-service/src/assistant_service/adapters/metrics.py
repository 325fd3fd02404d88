"""assistant-service's own metrics (the skeleton's come from carekit.metrics)."""

from prometheus_client import Counter, Histogram

QUESTIONS = Counter("assistant_questions", "Questions answered, by channel and outcome", ["channel", "outcome"])
COMPOSE_SECONDS = Histogram("assistant_compose_seconds", "Time to compose an answer (retrieval and the model)")
FEEDBACK = Counter("assistant_feedback", "Feedback on answers, by kind", ["kind"])
ARTICLE_CHANGES = Counter("assistant_article_changes", "Article changes applied to this instance's index")
