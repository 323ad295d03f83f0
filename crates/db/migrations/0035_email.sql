-- E-mail: one-time links (address verification, password reset, confirmation of a new address),
-- kept as SHA-256 hashes so a copy of the database holds no usable link; the address a user
-- is moving to until they confirm it; and whether a self-registered user must still confirm
-- their address before logging in.
CREATE TABLE user_tokens (
    id $ID$,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX user_tokens_user ON user_tokens (user_id, kind);
ALTER TABLE users ADD COLUMN pending_email TEXT;
ALTER TABLE users ADD COLUMN email_verification_required BOOLEAN NOT NULL DEFAULT FALSE;
