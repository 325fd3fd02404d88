"""The web console: the pages customers and staff use, server-rendered over the services' HTTP APIs."""
