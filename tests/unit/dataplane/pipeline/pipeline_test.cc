// The pipeline runner with scripted stages and handler over a recording Downstream: order,
// answering stages, response fields, a stage that waits and resumes.
#include "dataplane/pipeline/pipeline.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "dataplane/pipeline/downstream.h"
#include "dataplane/pipeline/exchange.h"
#include "tests/unit/dataplane/pipeline/recording_downstream.h"

namespace valet {
namespace {

namespace http = boost::beast::http;
using valet::testing::RecordingDownstream;

class ScriptedStage : public Stage {
 public:
  using Script = std::function<StageResult(Exchange&)>;
  ScriptedStage(std::string name, std::vector<std::string>* log, Script script)
      : name_(std::move(name)), log_(log), script_(std::move(script)) {}
  std::string_view name() const override { return name_; }
  StageResult Run(Exchange& exchange, Downstream&) const override {
    log_->push_back(name_);
    return script_(exchange);
  }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  Script script_;
};

class FinishingHandler : public Handler {
 public:
  explicit FinishingHandler(std::vector<std::string>* log) : log_(log) {}
  std::string_view name() const override { return "handler"; }
  void Handle(Exchange&, Downstream& downstream) const override {
    log_->push_back("handler");
    downstream.Finished(200);
  }

 private:
  std::vector<std::string>* log_;
};

class PipelineTest : public ::testing::Test {
 protected:
  void Build(std::vector<ScriptedStage::Script> scripts) {
    std::vector<std::unique_ptr<const Stage>> stages;
    for (size_t i = 0; i < scripts.size(); ++i) {
      stages.push_back(
          std::make_unique<ScriptedStage>("s" + std::to_string(i), &log_, std::move(scripts[i])));
    }
    pipeline_ = std::make_shared<const Pipeline>(std::move(stages),
                                                 std::make_shared<FinishingHandler>(&log_));
    app_.pipeline = pipeline_;
    exchange_.app = &app_;
  }

  std::vector<std::string> log_;
  AppRoute app_;
  std::shared_ptr<const Pipeline> pipeline_;
  Exchange exchange_;
  RecordingDownstream downstream_;
};

StageResult Next(Exchange&) { return StageResult::Next(); }

TEST_F(PipelineTest, StagesRunInOrderThenTheHandler) {
  Build({Next, Next, Next});
  RunPipeline(*pipeline_, exchange_, downstream_);
  EXPECT_EQ(log_, (std::vector<std::string>{"s0", "s1", "s2", "handler"}));
  EXPECT_EQ(downstream_.ended, (std::vector<std::string>{"finished:200"}));
}

TEST_F(PipelineTest, AFailingStageAnswersAndStopsThePipeline) {
  Build({Next,
         [](Exchange&) {
           return StageResult::Fail({401, "invalid_credentials", "wrong key"});
         },
         Next});
  RunPipeline(*pipeline_, exchange_, downstream_);
  EXPECT_EQ(log_, (std::vector<std::string>{"s0", "s1"}));
  EXPECT_EQ(downstream_.ended, (std::vector<std::string>{"fail:invalid_credentials"}));
}

TEST_F(PipelineTest, AStageMayAnswerWithAWholeResponse) {
  Build({[](Exchange&) {
    http::response<http::string_body> answer{http::status::accepted, 11};
    answer.body() = "canned";
    return StageResult::Respond(std::move(answer));
  }});
  RunPipeline(*pipeline_, exchange_, downstream_);
  EXPECT_EQ(log_, (std::vector<std::string>{"s0"}));
  EXPECT_EQ(downstream_.ended, (std::vector<std::string>{"respond:202"}));
}

TEST_F(PipelineTest, ResponseFieldsSetByStagesReachTheAnswer) {
  Build({[](Exchange& e) {
           e.response_fields.Set("X-Ratelimit-Remaining", "9");
           return StageResult::Next();
         },
         [](Exchange& e) {
           e.response_fields.Set("X-Ratelimit-Remaining", "8");  // Replaces, not duplicates.
           e.response_fields.Set("X-Other", "1");
           return StageResult::Next();
         }});
  RunPipeline(*pipeline_, exchange_, downstream_);
  http::fields backend;
  backend.set("X-Ratelimit-Remaining", "1000");  // The backend's own field is replaced.
  exchange_.response_fields.ApplyTo(backend);
  EXPECT_EQ(std::distance(backend.begin(), backend.end()), 2);
  EXPECT_EQ(backend["X-Ratelimit-Remaining"], "8");
  EXPECT_EQ(backend["X-Other"], "1");
}

TEST_F(PipelineTest, AWaitingStageResumesWhereItStopped) {
  bool waited = false;
  Build({Next,
         [&](Exchange&) {
           if (waited) return StageResult::Fail({500, "ran_twice", ""});
           waited = true;
           return StageResult::Wait();
         },
         Next});
  RunPipeline(*pipeline_, exchange_, downstream_);
  EXPECT_EQ(log_, (std::vector<std::string>{"s0", "s1"}));
  EXPECT_TRUE(downstream_.ended.empty());
  ResumePipeline(exchange_, downstream_);  // What the stage does once its wait is over.
  EXPECT_EQ(log_, (std::vector<std::string>{"s0", "s1", "s2", "handler"}));
  EXPECT_EQ(downstream_.ended, (std::vector<std::string>{"finished:200"}));
}

TEST_F(PipelineTest, AResumedExchangeWhoseClientLeftIsAborted) {
  Build({[](Exchange&) { return StageResult::Wait(); }, Next});
  RunPipeline(*pipeline_, exchange_, downstream_);
  downstream_.closed_ = true;
  ResumePipeline(exchange_, downstream_);
  EXPECT_EQ(log_, (std::vector<std::string>{"s0"}));
  EXPECT_EQ(downstream_.ended, (std::vector<std::string>{"abort:0"}));
}

TEST(BuildPipelineTest, APlainAppIsProxied) {
  AppRoute app;
  std::shared_ptr<const Pipeline> pipeline = BuildPipeline(app);
  EXPECT_TRUE(pipeline->stages().empty());
  EXPECT_EQ(pipeline->handler().name(), "proxy");
}

}  // namespace
}  // namespace valet
