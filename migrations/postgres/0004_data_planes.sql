-- Data-plane certificates and nodes per control plane. Keep in step with ../sqlite/0004_data_planes.sql.
CREATE TABLE dp_client_certificates (
    control_plane_id TEXT NOT NULL REFERENCES control_planes (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    cert             TEXT NOT NULL,
    -- Lowercase hex SHA-256 of the certificate's DER: what a pinned data plane presents.
    fingerprint      TEXT NOT NULL,
    -- The certificate's subject, to find the anchor that issued a data plane's certificate.
    subject          TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (control_plane_id, id)
);
CREATE INDEX dp_client_certificates_by_fingerprint ON dp_client_certificates (fingerprint);
CREATE INDEX dp_client_certificates_by_subject ON dp_client_certificates (subject);

CREATE TABLE data_plane_nodes (
    control_plane_id TEXT NOT NULL REFERENCES control_planes (id) ON DELETE CASCADE,
    id               TEXT NOT NULL,
    hostname         TEXT NOT NULL,
    version          TEXT NOT NULL,
    config_hash      TEXT NOT NULL,
    labels           TEXT NOT NULL,
    -- Konnect's compatibility_status object, as JSON.
    compatibility    TEXT NOT NULL,
    -- The data plane's last {"type": "error"} report, as JSON, or NULL.
    last_error       TEXT,
    -- The certificate the node connected with; another certificate may not take the id.
    cert_fingerprint TEXT NOT NULL,
    cert_expiry      BIGINT NOT NULL,
    last_ping        BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (control_plane_id, id)
);
