-- The part of TalentFlow's schema that the incident touches: jobs with an
-- application limit, candidates, and applications. apply_to_job counts the
-- applications of a job and inserts when count < max_applications; without a
-- lock on the job row, concurrent requests all see the same count.
CREATE TABLE IF NOT EXISTS companies (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL
);

CREATE TABLE IF NOT EXISTS jobs (
    id                bigint PRIMARY KEY,
    company_id        bigint REFERENCES companies (id),
    title             text NOT NULL,
    status            text NOT NULL DEFAULT 'open',
    max_applications  integer NOT NULL CHECK (max_applications > 0),
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS candidates (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS applications (
    id            bigserial PRIMARY KEY,
    job_id        bigint NOT NULL REFERENCES jobs (id),
    candidate_id  bigint NOT NULL REFERENCES candidates (id),
    status        text NOT NULL DEFAULT 'submitted',
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (job_id, candidate_id)
);

CREATE INDEX IF NOT EXISTS applications_job_id_idx ON applications (job_id);
