#include "server/jobs/device_slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/support/error_of.h"

namespace layerscope::jobs {
namespace {

using namespace std::chrono_literals;

const auto kNever = [] { return false; };

TEST(DeviceSlotsTest, SharesOfAJobGoToTheirOwnDevicesWhenAllAreFree) {
  DeviceSlots slots(3, 1);
  EXPECT_EQ(slots.Acquire(1, kNever), 1);
  EXPECT_EQ(slots.Acquire(2, kNever), 2);
  EXPECT_EQ(slots.Acquire(0, kNever), 0);
}

TEST(DeviceSlotsTest, TheLeastBusyDeviceWinsOverThePreferredOne) {
  DeviceSlots slots(2, 2);
  EXPECT_EQ(slots.Acquire(0, kNever), 0);
  EXPECT_EQ(slots.Acquire(0, kNever), 1);  // device 0 is busier
  EXPECT_EQ(slots.Acquire(5, kNever), 1);  // preferred 5 is device 1; both hold one
  EXPECT_EQ(slots.Acquire(1, kNever), 0);
  slots.Release(0);
  EXPECT_EQ(slots.Acquire(1, kNever), 0);
}

TEST(DeviceSlotsTest, AFullServerMakesTheNextShareWaitForARelease) {
  DeviceSlots slots(2, 1);
  ASSERT_EQ(slots.Acquire(0, kNever), 0);
  ASSERT_EQ(slots.Acquire(1, kNever), 1);
  std::atomic<int> got{-2};
  std::thread waiter([&] { got = slots.Acquire(0, kNever, 5ms); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(got.load(), -2) << "took a slot of a full server";
  slots.Release(1);
  waiter.join();
  EXPECT_EQ(got.load(), 1);
}

TEST(DeviceSlotsTest, AWaitEndsWhenStopIsRequested) {
  DeviceSlots slots(1, 1);
  ASSERT_EQ(slots.Acquire(0, kNever), 0);
  std::atomic<bool> stop{false};
  std::atomic<int> got{-2};
  std::thread waiter([&] {
    got = slots.Acquire(
        0, [&] { return stop.load(); }, 5ms);
  });
  std::this_thread::sleep_for(50ms);
  stop = true;
  waiter.join();
  EXPECT_EQ(got.load(), -1);
}

TEST(DeviceSlotsTest, NoDeviceOrNoSlotIsRefused) {
  EXPECT_NE(ErrorOf([] { DeviceSlots(0, 1); }).find("devices (0)"), std::string::npos);
  EXPECT_NE(ErrorOf([] { DeviceSlots(2, 0); }).find("per_device (0)"), std::string::npos);
}

}  // namespace
}  // namespace layerscope::jobs
