-- Key pairs of local actors (PEM), created on first need and kept for good: other instances cache
-- the public key, so it must never change silently.
ALTER TABLE actors ADD COLUMN public_key_pem TEXT;
ALTER TABLE actors ADD COLUMN private_key_pem TEXT;
