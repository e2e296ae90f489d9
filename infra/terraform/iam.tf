# A service account per role, with no project role: what a role may do in
# GCP is granted on the one resource it needs, here the segment bucket (the
# master data set). VMs get the cloud-platform scope, so that IAM alone
# decides (Google's recommended setting; scopes are a legacy second gate).

resource "google_service_account" "role" {
  for_each = toset(local.roles)

  account_id   = "${var.name}-${each.key}"
  display_name = "Tributary ${each.key}"
}

resource "google_storage_bucket" "segments" {
  name                        = "${var.project}-${var.name}-segments"
  location                    = upper(var.region)
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.storage]
}

# The archivers (control VMs) write segments; batch workers read them.
resource "google_storage_bucket_iam_member" "segments_write" {
  bucket = google_storage_bucket.segments.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${local.sa.control}"
}

resource "google_storage_bucket_iam_member" "segments_read" {
  bucket = google_storage_bucket.segments.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${local.sa.batch}"
}
