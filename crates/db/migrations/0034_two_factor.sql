-- Two-factor authentication (TOTP, as PeerTube): the user's secret once confirmed, the last
-- time step a code was accepted for (a code is good once), and a pending request (its secret,
-- the token that confirms it, and when it lapses).
ALTER TABLE users ADD COLUMN otp_secret TEXT;
ALTER TABLE users ADD COLUMN otp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN otp_pending_secret TEXT;
ALTER TABLE users ADD COLUMN otp_pending_token TEXT;
ALTER TABLE users ADD COLUMN otp_pending_expires BIGINT;
