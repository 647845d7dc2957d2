"""TLJH behind another web server that keeps ports 80/443 (nginx, apache): the reverse-proxy snippet for it.

TLJH documents moving its proxy off 80/443 with ``http.port``/``https.port`` (and ``http.address`` to listen on one
address only; docs/topic/tljh-config, "Ports"); the front server then terminates TLS and forwards every request,
websockets included, to TLJH's HTTP port. The headers follow JupyterHub's reverse-proxy guide
(docs/source/howto/configuration/config-proxy): the original Host, the client's address, the scheme, and the
Upgrade/Connection pair kernels need.
"""

from __future__ import annotations

KINDS = ("nginx", "apache")


def snippet(kind: str, domain: str, port: int, address: str = "127.0.0.1") -> str:
    """The front server's site for ``domain`` forwarding to TLJH on ``address:port``. ``kind``: nginx or apache
    (anything else gets the nginx one). Certificate paths are certbot's defaults, to be adjusted."""
    upstream = f"{address}:{port}"
    if kind == "apache":
        return f"""# /etc/apache2/sites-available/jupyterhub.conf  (a2enmod ssl proxy proxy_http proxy_wstunnel rewrite headers)
<VirtualHost *:80>
    ServerName {domain}
    Redirect permanent / https://{domain}/
</VirtualHost>
<VirtualHost *:443>
    ServerName {domain}
    SSLEngine on
    SSLCertificateFile /etc/letsencrypt/live/{domain}/fullchain.pem
    SSLCertificateKeyFile /etc/letsencrypt/live/{domain}/privkey.pem
    Header always set Strict-Transport-Security "max-age=31536000"
    ProxyPreserveHost on
    RequestHeader set X-Forwarded-Proto "https"
    RewriteEngine on
    RewriteCond %{{HTTP:Upgrade}} websocket [NC]
    RewriteCond %{{HTTP:Connection}} upgrade [NC]
    RewriteRule /(.*) ws://{upstream}/$1 [P,L,NE]
    ProxyPass / http://{upstream}/
    ProxyPassReverse / http://{upstream}/
</VirtualHost>
"""
    return f"""# /etc/nginx/sites-available/jupyterhub  (then: ln -s it into sites-enabled, nginx -t, systemctl reload nginx)
map $http_upgrade $connection_upgrade {{
    default upgrade;
    ''      close;
}}
server {{
    listen 80;
    server_name {domain};
    return 301 https://$host$request_uri;
}}
server {{
    listen 443 ssl;
    server_name {domain};
    ssl_certificate     /etc/letsencrypt/live/{domain}/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/{domain}/privkey.pem;
    add_header Strict-Transport-Security "max-age=31536000" always;
    location / {{
        proxy_pass http://{upstream};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_buffering off;
    }}
}}
"""
