-- The token of a job's current claim: every state change of a running job names it, so a worker
-- whose lease was taken (its heartbeat went stale and the job was handed to another) cannot
-- overwrite the new owner's work.
ALTER TABLE jobs ADD COLUMN lease TEXT;
