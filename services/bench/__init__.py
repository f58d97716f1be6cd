"""`duban bench`: the campaign measured beside the raw engine, on servers of its own.

`province` launches a generated province (1,000 towns × 15 tasks) on a fresh dev server;
`engine` holds the raw engine's side (empty workflows, the naive design, plain timers);
`storm` a timer storm (many deadlines at one instant) for both; `worker` the worker process.
"""
