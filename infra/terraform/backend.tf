# Terraform state lives in a GCS bucket shared by the operators (object
# versioning on, so a bad apply can be rolled back). The bucket is made once,
# by hand, before the first `make infra` (infra/README.md, "From an empty
# project"), and given to init: `terraform init -backend-config=bucket=BUCKET`
# (make infra reads it from TRIBUTARY_TF_STATE_BUCKET).
# `make infra-check` works on a copy of this directory without this file: a
# plan needs no state.
terraform {
  backend "gcs" {
    prefix = "tributary/terraform"
  }
}
