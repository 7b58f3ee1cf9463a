#!/usr/bin/env bash
# One-shot Airflow setup (the airflow-init service): metadata schema, then the admin login.
set -euo pipefail

airflow db migrate

# The simple auth manager has no "users create": it reads passwords from a JSON file and,
# for a configured user missing there, generates one and only prints it to the api-server
# log. Writing the file here makes the admin password the one from .env, and re-running
# init after changing AIRFLOW_ADMIN_PASSWORD rotates it. Other users' entries are kept.
python - <<'PY'
import json
import os
import tempfile

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

path = SimpleAuthManager.get_generated_password_file()
user = os.environ["AIRFLOW_ADMIN_USER"]
configured = {u.username for u in SimpleAuthManager.get_users()}
if user not in configured:
    raise SystemExit(f"AIRFLOW_ADMIN_USER={user!r} is not in simple_auth_manager_users")

try:
    with open(path) as file:
        passwords = json.loads(file.read().strip() or "{}")
except FileNotFoundError:
    passwords = {}
passwords[user] = os.environ["AIRFLOW_ADMIN_PASSWORD"]

# Atomic replace; mkstemp makes the file 0600, right for plaintext passwords.
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".passwords-")
with os.fdopen(fd, "w") as file:
    file.write(json.dumps(passwords) + "\n")
os.replace(tmp, path)
print(f"Airflow admin login '{user}' written to {path}")
PY
