-- Seed data for the TalentFlow drill (slotwatch drill). It sets the stage of
-- the incident: job 12345 is one application below its limit of 50, so a
-- burst of concurrent applications can overrun it; job 20001 is the row an
-- idle-in-transaction session keeps locked. Candidates 1..49 have applied to
-- job 12345; the burst uses candidates 1001 and up.
TRUNCATE applications, candidates, jobs, companies RESTART IDENTITY CASCADE;

INSERT INTO companies (id, name) VALUES
    (1, 'TalentFlow Demo Co'),
    (2, 'Acme Staffing'),
    (3, 'Northwind Logistics');
SELECT setval('companies_id_seq', 3);

INSERT INTO jobs (id, company_id, title, max_applications) VALUES
    (12345, 1, 'Senior Backend Engineer', 50),
    (20001, 2, 'Data Engineer', 200),
    (20002, 3, 'Site Reliability Engineer', 100),
    (20003, 3, 'Product Designer', 60);

INSERT INTO candidates (id, name, email)
SELECT g, 'Candidate ' || g, 'candidate' || g || '@example.com'
FROM generate_series(1, 1200) AS g;
SELECT setval('candidates_id_seq', 1200);

INSERT INTO applications (job_id, candidate_id, created_at)
SELECT 12345, g, now() - make_interval(mins => 50 - g)
FROM generate_series(1, 49) AS g;

INSERT INTO applications (job_id, candidate_id, created_at)
SELECT 20001 + (g % 3), 100 + g, now() - make_interval(hours => g % 48)
FROM generate_series(1, 120) AS g;
