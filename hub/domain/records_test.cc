#include "hub/domain/records.h"

#include "gtest/gtest.h"

namespace accord::domain {
namespace {

::accord::v1::Record Identity(const std::string& name) {
  ::accord::v1::Record r;
  r.set_data_category(::accord::v1::DATA_CATEGORY_IDENTITY);
  r.mutable_identity()->set_given_name(name);
  return r;
}

TEST(RecordsTest, ContentMustFitItsCategory) {
  ::accord::v1::Record r = Identity("Jordan");
  EXPECT_TRUE(RecordFitsCategory(r));
  r.set_data_category(::accord::v1::DATA_CATEGORY_HEALTH);
  EXPECT_FALSE(RecordFitsCategory(r));
  r.mutable_clinical()->set_code("35489007");
  EXPECT_TRUE(RecordFitsCategory(r));
  r.set_data_category(::accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  EXPECT_TRUE(RecordFitsCategory(r));
  r.set_data_category(::accord::v1::DATA_CATEGORY_FAMILY_CONTEXT);
  EXPECT_FALSE(RecordFitsCategory(r));
  r.mutable_note()->set_text("Lives with mother and two siblings");
  EXPECT_TRUE(RecordFitsCategory(r));
  r.set_data_category(::accord::v1::DATA_CATEGORY_UNSPECIFIED);
  EXPECT_FALSE(RecordFitsCategory(r));
  r.set_data_category(static_cast<::accord::v1::DataCategory>(999));
  EXPECT_FALSE(RecordFitsCategory(r));
  EXPECT_FALSE(RecordFitsCategory(::accord::v1::Record()));
}

TEST(RecordsTest, KeepsOnlyAllowedFittingRecordsInOrder) {
  google::protobuf::RepeatedPtrField<::accord::v1::Record> records;
  *records.Add() = Identity("a");
  ::accord::v1::Record health;
  health.set_data_category(::accord::v1::DATA_CATEGORY_HEALTH);
  health.mutable_clinical()->set_code("x");
  *records.Add() = health;
  *records.Add() = Identity("b");
  ::accord::v1::Record mislabelled = Identity("c");
  mislabelled.set_data_category(::accord::v1::DATA_CATEGORY_EDUCATION);
  *records.Add() = mislabelled;
  EXPECT_EQ(KeepAllowedRecords({::accord::v1::DATA_CATEGORY_IDENTITY, ::accord::v1::DATA_CATEGORY_EDUCATION}, &records), 2);
  ASSERT_EQ(records.size(), 2);
  EXPECT_EQ(records.Get(0).identity().given_name(), "a");
  EXPECT_EQ(records.Get(1).identity().given_name(), "b");
  EXPECT_EQ(KeepAllowedRecords({}, &records), 2);
  EXPECT_TRUE(records.empty());
}

}  // namespace
}  // namespace accord::domain
