"""Use cases: questions and answers (chat threads and HTTP), feedback, articles and the index that follows them."""
