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
alias fastapi='uvicorn app.main:app --reload --host 0.0.0.0 --port 8000'
alias test='python -m pytest'
alias ml-versions='/usr/local/bin/ml-versions'
alias health-check='/usr/local/bin/healthcheck http://127.0.0.1:8000/health && echo healthy'

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
