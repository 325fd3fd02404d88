-- Run once by the Postgres container on first start: one database per service.
CREATE DATABASE plan;
CREATE DATABASE ticket;
CREATE DATABASE notify;
CREATE DATABASE assistant;
