#include "server/service/content_key.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "core/model/model_config.h"
#include "tests/server/embedded_model_entry.h"
#include "tests/server/test_dir.h"
#include "tests/server/validation_cases.h"

namespace layerscope::server {
namespace {

using testing::BaseRequest;
using testing::EmbeddedModelEntry;
using testing::TestDir;

class ContentKeyTest : public ::testing::Test {
 protected:
  ContentKeyTest() : models_{EmbeddedModelEntry()}, validator_(models_, ServerLimits(), data_.path()) {}

  std::string KeyOf(const v1::CompareRequest& request, const std::string& digest = "model") const {
    return ContentKey(digest, validator_.Validate(request));
  }

  TestDir data_;
  std::vector<ModelEntry> models_;
  RequestValidator validator_;
};

TEST_F(ContentKeyTest, EqualForTheSameWorkAndDifferentForAnyChange) {
  const std::string key = KeyOf(BaseRequest());
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(KeyOf(BaseRequest()), key);
  // Defaults spelled out are the same work.
  v1::CompareRequest spelled = BaseRequest();
  spelled.set_reference_mode("fp32");
  spelled.set_batch_size(2);
  EXPECT_EQ(KeyOf(spelled), key);

  const std::vector<std::function<void(v1::CompareRequest*)>> changes = {
      [](v1::CompareRequest* r) { r->set_modes(0, "bf16"); },
      [](v1::CompareRequest* r) { r->set_reference_mode("fp16"), r->set_modes(0, "fp32"); },
      [](v1::CompareRequest* r) { r->add_modes("bf16"); },
      [](v1::CompareRequest* r) { r->set_layers(1, 1); },
      [](v1::CompareRequest* r) { r->add_points("mixer_output"); },
      [](v1::CompareRequest* r) { r->set_samples(3); },
      [](v1::CompareRequest* r) { r->set_seq_len(65); },
      [](v1::CompareRequest* r) { r->set_batch_size(1); },
      [](v1::CompareRequest* r) { r->mutable_data()->set_text(std::string(200, 'x')); },
      // A composed mode with fp16's fields under its own name: rows carry the name.
      [](v1::CompareRequest* r) {
        auto* custom = r->add_custom_modes();
        custom->set_name("mine");
        custom->set_spec("base=fp16");
        r->set_modes(0, "mine");
      },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    v1::CompareRequest changed = BaseRequest();
    changes[i](&changed);
    EXPECT_NE(KeyOf(changed), key) << "change " << i;
  }
  EXPECT_NE(KeyOf(BaseRequest(), "another model"), key);
}

TEST_F(ContentKeyTest, TheSameTokensFromAnotherSourceShareTheKey) {
  const std::string text(2 * 64, 'a');
  std::ofstream(data_.path() + "/a.txt") << text;
  v1::CompareRequest inline_text = BaseRequest();
  inline_text.mutable_data()->set_text(text);
  v1::CompareRequest file = BaseRequest();
  file.mutable_data()->set_file("a.txt");
  EXPECT_EQ(KeyOf(inline_text), KeyOf(file));
}

TEST(ModelDigestTest, ChangesWithTheFilesAndTheLoadSettings) {
  TestDir dir;
  ModelInfo info;
  info.name = "m";
  info.dir = dir.path();
  info.device = "cpu";
  std::ofstream(dir.path() + "/model.safetensors") << "weights";
  const std::string digest = ModelDigest(info, "quantize=1");
  EXPECT_EQ(ModelDigest(info, "quantize=1"), digest);
  EXPECT_NE(ModelDigest(info, "quantize=0"), digest);
  std::ofstream(dir.path() + "/model.safetensors") << "other weights";
  EXPECT_NE(ModelDigest(info, "quantize=1"), digest);
}

}  // namespace
}  // namespace layerscope::server
