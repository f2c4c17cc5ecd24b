"""Write a runnable nginx configuration around deploy/nginx/docsnap.conf.

The result keeps every directive of docsnap.conf but listens on loopback
ports, reads the certificate from CERT_DIR, writes logs and temporary files
under PREFIX, and proxies to 127.0.0.1:API_PORT. Used by deploy/test-deploy.sh
and deploy/validate.sh; run nginx with `-c PREFIX/nginx.conf -p PREFIX`.

Usage: render-test-config.py PREFIX CERT_DIR API_PORT HTTP_PORT HTTPS_PORT
"""

import os
import sys

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "docsnap.conf")


def render_site(text, prefix, cert_dir, api_port, http_port, https_port):
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("/etc/ssl/docsnap/fullchain.pem", f"{cert_dir}/fullchain.pem"),
        ("/etc/ssl/docsnap/privkey.pem", f"{cert_dir}/privkey.pem"),
        ("/var/log/nginx/docsnap-access.log", f"{prefix}/access.log"),
        ("/var/www/acme", f"{prefix}/acme"),
        ("server 127.0.0.1:8000 ", f"server 127.0.0.1:{api_port} "),
    ]
    for old, new in replacements:
        if old not in text:
            sys.exit(f"error: docsnap.conf no longer contains {old!r}; update {__file__}")
        text = text.replace(old, new)
    return text


def render_main(prefix):
    temp = f"{prefix}/tmp"
    return f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {prefix}/docsnap.conf;
}}
"""


def main(argv):
    if len(argv) != 5:
        sys.exit(__doc__.strip().splitlines()[-1])
    prefix, cert_dir, api_port, http_port, https_port = argv
    prefix = os.path.abspath(prefix)
    cert_dir = os.path.abspath(cert_dir)
    os.makedirs(f"{prefix}/tmp", exist_ok=True)
    os.makedirs(f"{prefix}/acme", exist_ok=True)

    with open(SOURCE, encoding="utf-8") as file:
        site = render_site(file.read(), prefix, cert_dir, api_port, http_port, https_port)
    with open(f"{prefix}/docsnap.conf", "w", encoding="utf-8") as file:
        file.write(site)
    with open(f"{prefix}/nginx.conf", "w", encoding="utf-8") as file:
        file.write(render_main(prefix))


if __name__ == "__main__":
    main(sys.argv[1:])
