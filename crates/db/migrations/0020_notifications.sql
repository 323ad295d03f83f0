-- What concerns a user (PeerTube's notifications): one row per user, type and subject (a video,
-- a comment, a follow: `video:12`), so whatever runs twice tells once. `payload` holds the
-- subject as the API shows it, taken when it happened.
CREATE TABLE notifications (
    id $ID$,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type BIGINT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    is_read BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (user_id, type, subject)
);
CREATE INDEX notifications_user ON notifications (user_id, is_read, created_at);

-- Per user and type: 0 none, 1 on the web, 2 by e-mail, 3 both (PeerTube's values); a user
-- without a row has the defaults.
CREATE TABLE notification_settings (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
