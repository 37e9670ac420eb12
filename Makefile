.PHONY: run test
run:  ## set up and run Verdict with demo data on SQLite, a server-less broker and three workers
	@scripts/run.sh
test:  ## run every test against PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)
	@scripts/test.sh
