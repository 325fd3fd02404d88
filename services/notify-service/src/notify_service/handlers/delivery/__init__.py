"""The delivery pipeline: claim, group, rate-limit, render, send, classify, record."""
