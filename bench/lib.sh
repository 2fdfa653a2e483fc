# Shared by the bench/ scripts (sourced, not run).

# A TCP port on 127.0.0.1 that is free now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until 127.0.0.1:$1 accepts connections while process $2 lives, at most
# START_TIMEOUT seconds (default 60); fails if the process died or time ran out.
wait_for_port() {
    local port=$1 pid=$2 deadline=$((SECONDS + ${START_TIMEOUT:-60}))
    while ((SECONDS < deadline)); do
        kill -0 "$pid" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}
