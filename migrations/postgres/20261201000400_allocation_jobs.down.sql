DROP TABLE allocation_jobs;
