# start_nginx DIR PORT HLS_ROOT: serves HLS_ROOT at /static/streaming-playlists/hls/ (Flotilla's
# path) on 127.0.0.1:PORT with a config generated into DIR: sendfile, tcp_nopush, tcp_nodelay, no
# access log, pid file, error log and temp paths in DIR, `daemon off` in the background. Sets
# NGINX_PID. The response headers match Flotilla's (cache, CORS, nosniff), so both send the same.
start_nginx() {
  local dir=$1 port=$2 hls=$3 user_line=""
  mkdir -p "$dir/tmp"
  # As root, workers would drop to `nobody` and could not read a private temp directory.
  [ "$(id -u)" = 0 ] && user_line="user root root;"
  cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes auto;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    # Flotilla keeps a connection for any number of requests; so does nginx here.
    keepalive_requests 1000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp4 mp4;
        application/json json;
    }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port;
        location /static/streaming-playlists/hls/ {
            alias $hls/;
            add_header Cache-Control "public, max-age=31536000, immutable";
            add_header Access-Control-Allow-Origin "*";
            add_header Access-Control-Expose-Headers "Content-Length, Content-Range, ETag";
            add_header X-Content-Type-Options nosniff;
        }
    }
}
EOF
  nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" 2>>"$dir/error.log" ||
    { cat "$dir/error.log" >&2; die "the generated nginx config is invalid ($dir/nginx.conf)"; }
  nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" >>"$dir/stdout.log" 2>&1 &
  NGINX_PID=$!
  track_pid "$NGINX_PID"
  local i
  for ((i = 0; i < 100; i++)); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/error.log" >&2
  die "nginx did not start on 127.0.0.1:$port"
}
