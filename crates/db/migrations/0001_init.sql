-- Accounts, channels, login: the foundation schema.
-- One text for both databases: `$ID$` becomes each dialect's auto-increment primary key, every other
-- type name here means the same on SQLite and PostgreSQL. Times are milliseconds since the epoch.

CREATE TABLE users (
    id $ID$,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role BIGINT NOT NULL,
    video_quota BIGINT NOT NULL,
    video_quota_daily BIGINT NOT NULL,
    blocked BOOLEAN NOT NULL DEFAULT FALSE,
    blocked_reason TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    nsfw_policy TEXT NOT NULL,
    p2p_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    auto_play_video BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login_at BIGINT
);
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

-- Accounts (Person) and channels (Group) share one namespace of actor names per host, as in
-- PeerTube: a channel cannot take a user's name. Local actors have host ''.
CREATE TABLE actors (
    id $ID$,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    host TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (host, name)
);

CREATE TABLE accounts (
    id $ID$,
    actor_id BIGINT NOT NULL UNIQUE REFERENCES actors (id) ON DELETE CASCADE,
    user_id BIGINT UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE channels (
    id $ID$,
    actor_id BIGINT NOT NULL UNIQUE REFERENCES actors (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    description TEXT,
    support TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX channels_account ON channels (account_id);

-- Avatars and banners: one row per stored size.
CREATE TABLE actor_images (
    id $ID$,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    filename TEXT NOT NULL UNIQUE,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX actor_images_actor ON actor_images (actor_id);

CREATE TABLE oauth_clients (
    id $ID$,
    client_id TEXT NOT NULL UNIQUE,
    client_secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Only SHA-256 hashes of tokens are stored: a leaked database does not leak sessions.
CREATE TABLE oauth_tokens (
    id $ID$,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_hash TEXT NOT NULL UNIQUE,
    refresh_hash TEXT NOT NULL UNIQUE,
    access_expires_at BIGINT NOT NULL,
    refresh_expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id);

-- Sign-up requests waiting for a moderator (signup = approval). The user is created on accept.
CREATE TABLE registrations (
    id $ID$,
    state BIGINT NOT NULL,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    display_name TEXT,
    channel_name TEXT,
    channel_display_name TEXT,
    reason TEXT NOT NULL,
    moderation_response TEXT,
    user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Settings changed at run time by admins (the custom config), as JSON documents.
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
