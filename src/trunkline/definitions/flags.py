"""Extensions that announce API behaviour and add no attribute of their own (the standard
attributes every resource has, list parameters, If-Match)."""
from trunkline.definitions.base import Extension

EXTENSIONS = (
    Extension("empty-string-filtering", "Empty String Filtering Extension",
              "Allow filtering by attributes with empty string value"),
    Extension("filter-validation", "Filter parameters validation",
              "Provides validation on filter parameters."),
    Extension("ip-substring-filtering", "IP address substring filtering",
              "Provides IP address substring filtering when listing ports"),
    Extension("pagination", "Pagination support",
              "Extension that indicates that pagination is enabled."),
    Extension("project-id", "project_id field enabled",
              "Extension that indicates that project_id field is enabled."),
    Extension("revision-if-match", "If-Match constraints based on revision_number",
              "Extension indicating that If-Match based on revision_number is supported."),
    Extension("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    Extension("standard-attr-description", "standard-attr-description",
              "Extension to add descriptions to standard attributes"),
    Extension("standard-attr-revisions", "Resource revision numbers",
              "This extension will display the revision number of neutron resources."),
    Extension("standard-attr-tag", "Tag support for resources with standard attribute: subnet, "
              "trunk, network, port", "Enables to set tag on resources with standard attribute."),
    Extension("standard-attr-timestamp", "Resource timestamps",
              "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
              "standard attributes."),
)
