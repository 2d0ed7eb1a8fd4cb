-- One database and one login role per service: a service's role owns its own database and
-- cannot connect to any other (CONNECT is revoked from PUBLIC). The passwords come from the
-- environment of the PostgreSQL container (psql's \getenv, PostgreSQL 15 or newer), never
-- from this file. Run once, by the image's entrypoint, when the data directory is new.
--
-- Adding a service: one more block like these, and its password variable in
-- docker-compose.yml.
\set ON_ERROR_STOP on
-- (\unset first: \getenv leaves the variable as it was when the environment lacks it,
-- and a missing password must stop the script, not reuse the previous one.)

\unset password
\getenv password REGISTRATION_DB_PASSWORD
CREATE ROLE cxc_registration LOGIN PASSWORD :'password';
CREATE DATABASE cxc_registration OWNER cxc_registration;
REVOKE ALL ON DATABASE cxc_registration FROM PUBLIC;

\unset password
\getenv password MATCHING_DB_PASSWORD
CREATE ROLE cxc_matching LOGIN PASSWORD :'password';
CREATE DATABASE cxc_matching OWNER cxc_matching;
REVOKE ALL ON DATABASE cxc_matching FROM PUBLIC;

\unset password
\getenv password AGREEMENTS_DB_PASSWORD
CREATE ROLE cxc_agreements LOGIN PASSWORD :'password';
CREATE DATABASE cxc_agreements OWNER cxc_agreements;
REVOKE ALL ON DATABASE cxc_agreements FROM PUBLIC;

\unset password
\getenv password PAYMENTS_DB_PASSWORD
CREATE ROLE cxc_payments LOGIN PASSWORD :'password';
CREATE DATABASE cxc_payments OWNER cxc_payments;
REVOKE ALL ON DATABASE cxc_payments FROM PUBLIC;

\unset password
\getenv password NOTIFICATIONS_DB_PASSWORD
CREATE ROLE cxc_notifications LOGIN PASSWORD :'password';
CREATE DATABASE cxc_notifications OWNER cxc_notifications;
REVOKE ALL ON DATABASE cxc_notifications FROM PUBLIC;

\unset password
