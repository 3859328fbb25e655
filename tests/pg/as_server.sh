# as_server.sh - sourced by the scripts that run PostgreSQL's programs:
# as_server CMD... runs a command as the server's user ($PGRUNAS, set by
# start.sh and kept in the server's env file; empty: as ourselves).
as_server() {
	if [ -n "${PGRUNAS:-}" ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u "$PGRUNAS" -- "$@"
		else
			setpriv --reuid="$PGRUNAS" --regid="$(id -g "$PGRUNAS")" --clear-groups -- "$@"
		fi
	else
		"$@"
	fi
}
