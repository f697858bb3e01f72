#include "client/listings.h"

#include <gtest/gtest.h>

namespace layerscope::client {
namespace {

TEST(ModesTableTest, StagesPrecisionAndSpecSyntax) {
  v1::ListModesResponse modes;
  v1::ModeInfo* fp16 = modes.add_modes();
  fp16->set_name("fp16");
  fp16->set_precision("fp16");
  fp16->set_description("FP model in fp16");
  v1::ModeInfo* q = modes.add_modes();
  q->set_name("2-1");
  q->set_quantized(true);
  q->add_quantized_stages("in_proj");
  q->add_quantized_stages("conv1d (int8 in, int8 out)");
  q->set_description(
      "as 0, with the framework (PyTorch) scan arithmetic; a long sentence that goes on and on until it has to wrap "
      "in its column");
  modes.set_spec_syntax("base: 0|2-1\nssm: kernel|framework\n");
  EXPECT_EQ(ModesTable(modes),
            "Name Precision Description\n"
            "---- --------- --------------------------------------------------------------------------------\n"
            "fp16 fp16      FP model in fp16\n"
            "2-1  W8A8      as 0, with the framework (PyTorch) scan arithmetic; a long sentence that goes on\n"
            "               and on until it has to wrap in its column\n"
            "               quantized: in_proj, conv1d (int8 in, int8 out)\n"
            "\n"
            "Compose a mode with --mode-spec 'NAME:field=value,...'; fields:\n"
            "  base: 0|2-1\n"
            "  ssm: kernel|framework\n");
}

TEST(ModesTableTest, NoSpecSectionWithoutSyntax) {
  v1::ListModesResponse modes;
  modes.add_modes()->set_name("fp32");
  EXPECT_EQ(ModesTable(modes).find("--mode-spec"), std::string::npos);
}

TEST(PointsTableTest, MarksDefaults) {
  v1::ListCapturePointsResponse points;
  v1::CapturePointInfo* a = points.add_points();
  a->set_name("mixer_input");
  a->set_is_default(true);
  a->set_description("RMSNorm output");
  v1::CapturePointInfo* b = points.add_points();
  b->set_name("dt");
  b->set_description("after softplus");
  EXPECT_EQ(PointsTable(points),
            "Name        Default Description\n"
            "----------- ------- --------------\n"
            "mixer_input yes     RMSNorm output\n"
            "dt                  after softplus\n");
}

TEST(ModelsTableTest, OneRowPerModelThenHowItWasQuantized) {
  v1::ListModelsResponse models;
  v1::ModelInfo* m = models.add_models();
  m->set_name("embedded");
  m->set_is_default(true);
  m->set_layout("state-spaces");
  m->set_device("cpu");
  m->set_n_layer(6);
  m->set_d_model(192);
  m->set_d_inner(384);
  m->set_d_state(16);
  m->set_vocab_size(256);
  m->set_parameters(1000);
  m->set_float_available(true);
  m->set_quantized_available(true);
  m->set_quantization("calibrated on 10 x 512 bytes");
  m->set_weights("model.safetensors");
  v1::ModelInfo* q = models.add_models();
  q->set_name("q");
  q->set_layout("quamba");
  q->set_quantized_available(true);
  EXPECT_EQ(ModelsTable(models),
            "Name     Default Layout       Device Layers d_model d_inner d_state Vocab Parameters Float W8A8 Weights\n"
            "-------- ------- ------------ ------ ------ ------- ------- ------- ----- ---------- ----- ---- "
            "-----------------\n"
            "embedded yes     state-spaces cpu    6      192     384     16      256   1000       yes   yes  "
            "model.safetensors\n"
            "q                quamba              0      0       0       0       0     0          no    yes\n"
            "\n"
            "W8A8 models:\n"
            "  embedded: calibrated on 10 x 512 bytes\n");
}

TEST(JobsTableTest, OneRowPerJobWithStateStepsAndUtcTime) {
  v1::ListJobsResponse jobs;
  v1::Job* job = jobs.add_jobs();
  job->set_id("0123456789abcdef0123456789abcdef");
  job->set_owner("alice");
  job->set_state(v1::JOB_STATE_RUNNING);
  job->mutable_progress()->set_steps_done(3);
  job->mutable_progress()->set_steps_total(30);
  job->set_rows(12);
  job->set_created_unix_ms(1764118923456);  // 2025-11-26 01:02:03.456 UTC
  EXPECT_EQ(JobsTable(jobs),
            "Id                               Owner State   Steps Rows Created (UTC)\n"
            "-------------------------------- ----- ------- ----- ---- -------------------\n"
            "0123456789abcdef0123456789abcdef alice running 3/30  12   2025-11-26 01:02:03\n");
}

TEST(JobDetailsTest, SetFieldsOnly) {
  v1::Job job;
  job.set_id("ab");
  job.set_owner("bob");
  job.set_state(v1::JOB_STATE_FAILED);
  job.mutable_progress()->set_steps_total(4);
  job.set_created_unix_ms(1764118923000);
  job.set_error("out of memory");
  job.set_error_code("RESOURCE_EXHAUSTED");
  job.set_resume(v1::JOB_RESUME_RESUMED);
  job.set_interruptions(1);
  EXPECT_EQ(JobDetails(job),
            "id: ab\nowner: bob\nstate: failed\nsteps: 0/4\nrows: 0\ncreated: 2025-11-26 01:02:03\n"
            "error: RESOURCE_EXHAUSTED: out of memory\nresume: resumed after its last finished mode\n"
            "interruptions: 1\n");
}

}  // namespace
}  // namespace layerscope::client
