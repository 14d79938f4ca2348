# /etc/dataenv/profile.sh: the data environment's shell set-up (development image).
# Sourced as the last line of ~/.bashrc, so every interactive bash (and login shells,
# through ~/.profile) has it, and nothing sourced before it sees the aliases.
[ -n "${BASH_VERSION:-}" ] || return 0

DATAENV_VENV=${DATAENV_VENV:-/opt/venv}
ML_VENV=$DATAENV_VENV
export DATAENV_VENV ML_VENV

# Auto-activate the venv in new top-level shells only: not inside a shell started
# from another (SHLVL > 1), not when a venv is already active, not when it is missing.
if [ "${SHLVL:-1}" -eq 1 ] && [ -z "${VIRTUAL_ENV:-}" ] && [ -d "$ML_VENV" ]; then
    . "$ML_VENV/bin/activate"
fi

alias data='. "$ML_VENV/bin/activate"'
alias ml='. "$ML_VENV/bin/activate"'
alias test='python -m pytest'
alias ml-versions='/usr/local/bin/ml-versions'

# fastapi: the app (app/main.py) with reload, from the current directory when it has
# one, else from DATAENV_APP_DIR (/workspace). Host and port: UVICORN_HOST and
# UVICORN_PORT (0.0.0.0:8000), as in the production image; more uvicorn options after.
fastapi_dev() {
    local dir=$PWD
    if [ ! -f "$dir/app/main.py" ]; then
        dir=${DATAENV_APP_DIR:-/workspace}
        if [ ! -f "$dir/app/main.py" ]; then
            echo "fastapi: no app/main.py in $PWD or in $dir (the app is expected at $dir/app/main.py)" >&2
            return 1
        fi
    fi
    (cd "$dir" && exec python -m uvicorn app.main:app --reload --reload-dir "$dir" \
        --host "${UVICORN_HOST:-0.0.0.0}" --port "${UVICORN_PORT:-8000}" "$@")
}
alias fastapi=fastapi_dev

# health-check: the app's /health (HEALTHCHECK_URL, else UVICORN_PORT's) answers 2xx.
health_check() {
    local url=${HEALTHCHECK_URL:-http://127.0.0.1:${UVICORN_PORT:-8000}/health} why
    if why=$(/usr/local/bin/healthcheck -t "${HEALTHCHECK_TIMEOUT:-5}" "$url" 2>&1); then
        echo "healthy: $url"
    else
        case $why in
        *"Connection refused"*) echo "health-check: nothing listens at $url (start the API with fastapi)" >&2 ;;
        *) echo "health-check: not healthy: ${why#healthcheck: }" >&2 ;;
        esac
        return 1
    fi
}
alias health-check=health_check

airflow_web() {
    if command -v airflow >/dev/null 2>&1; then
        airflow webserver --port "${AIRFLOW_PORT:-8080}" "$@"
    else
        echo "airflow-web: Airflow is not installed in this image (build with --with-airflow)" >&2
        return 1
    fi
}
alias airflow-web=airflow_web

lint_all() {
    if command -v ruff >/dev/null 2>&1; then
        ruff check "${@:-.}" || return
    fi
    flake8 "${@:-.}" && mypy "${@:-.}"
}
alias lint=lint_all
