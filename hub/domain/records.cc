#include "hub/domain/records.h"

namespace accord::domain {

bool RecordFitsCategory(const ::accord::v1::Record& record) {
  using R = ::accord::v1::Record;
  switch (record.data_category()) {
    case ::accord::v1::DATA_CATEGORY_IDENTITY:
      return record.content_case() == R::kIdentity;
    case ::accord::v1::DATA_CATEGORY_EDUCATION:
      return record.content_case() == R::kEducation;
    case ::accord::v1::DATA_CATEGORY_SEN:
      return record.content_case() == R::kSen;
    case ::accord::v1::DATA_CATEGORY_ATTENDANCE:
      return record.content_case() == R::kAttendance;
    case ::accord::v1::DATA_CATEGORY_HEALTH:
    case ::accord::v1::DATA_CATEGORY_MENTAL_HEALTH:
      return record.content_case() == R::kClinical;
    case ::accord::v1::DATA_CATEGORY_UNSPECIFIED:
      return false;
    default:
      return ::accord::v1::DataCategory_IsValid(record.data_category()) && record.content_case() == R::kNote;
  }
}

int KeepAllowedRecords(const std::set<DataCategory>& allowed,
                       google::protobuf::RepeatedPtrField<::accord::v1::Record>* records) {
  int kept = 0;
  const int total = records->size();
  for (int i = 0; i < total; ++i) {
    const ::accord::v1::Record& r = records->Get(i);
    if (allowed.count(r.data_category()) && RecordFitsCategory(r)) {
      if (kept != i) records->SwapElements(kept, i);
      ++kept;
    }
  }
  records->DeleteSubrange(kept, total - kept);
  return total - kept;
}

}  // namespace accord::domain
