-- Passwords of password-protected videos (PeerTube 6.0's privacy 5). Kept as written, as PeerTube
-- does: the owner lists them to share them again, and they guard one video, not an account.
CREATE TABLE video_passwords (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    password TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (video_id, password)
);
