-- One database per service: no service reads another's tables.
CREATE DATABASE cxc_registration;
CREATE DATABASE cxc_matching;
CREATE DATABASE cxc_agreements;
CREATE DATABASE cxc_payments;
CREATE DATABASE cxc_notifications;
